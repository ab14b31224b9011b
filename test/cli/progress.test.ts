import t from 'tap';
import { createProgress } from '../../src/cli/progress.js';

function fakeStream(isTTY: boolean): { isTTY: boolean; columns: number; text: string; write(s: string): boolean } {
  return {
    isTTY,
    columns: 80,
    text: '',
    write(s: string) {
      this.text += s;
      return true;
    },
  };
}

t.test('draws on a terminal, redraws the final step, clears on finish', async (t) => {
  const stream = fakeStream(true);
  const progress = createProgress('building x.ann', 'trees', stream);
  progress.update(1, 4);
  progress.update(2, 4); // within the redraw interval: skipped
  progress.update(4, 4); // the last step is always drawn
  t.match(stream.text, /^\rbuilding x\.ann \[#+-+\] 1\/4 trees 0:00\x1b\[K/);
  t.notMatch(stream.text, /2\/4/);
  t.match(stream.text, /\[#+\] 4\/4 trees 0:00\x1b\[K$/);
  progress.finish();
  t.match(stream.text, /\r\x1b\[K$/);
});

t.test('silent when not a terminal', async (t) => {
  const stream = fakeStream(false);
  const progress = createProgress('building x.ann', 'trees', stream);
  progress.update(1, 2);
  progress.update(2, 2);
  progress.finish();
  t.equal(stream.text, '');
});

t.test('an unknown total shows the count only', async (t) => {
  const stream = fakeStream(true);
  createProgress('b', 'trees', stream).update(3, -1);
  t.match(stream.text, / 3 trees 0:00/);
});
