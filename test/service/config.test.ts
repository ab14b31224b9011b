import { resolve } from 'node:path';
import t from 'tap';
import { ConfigError, defaults, helpText, loadConfig, SETTINGS, settingsTable } from '../../src/service/config.js';

t.test('defaults, environment, flags (flags win)', async (t) => {
  const d = loadConfig([], {});
  t.match(d, { port: 8080, host: '0.0.0.0', indexDir: resolve('indexes'), demo: true, adminToken: null, apiKey: null });
  t.ok(d.workers >= 1);
  const c = loadConfig(['--port', '9000', '--workers=3', '--no-demo', '--index-dir', 'x'], { PORT: '1234', HOST: '127.0.0.1', NNSERVE_WORKERS: '2', NNSERVE_ADMIN_TOKEN: 'tok', NNSERVE_MAX_N: '50' });
  t.match(c, { port: 9000, host: '127.0.0.1', workers: 3, demo: false, adminToken: 'tok', maxN: 50, indexDir: resolve('x') });
  t.equal(loadConfig(['--docs=false'], {}).docs, false);
  t.equal(loadConfig([], { NNSERVE_ACCESS_LOG: 'off' }).accessLog, false);
});

t.test('bad values are refused with the flag or variable named', async (t) => {
  t.throws(() => loadConfig(['--port', 'abc'], {}), new ConfigError('--port: expected an integer, got "abc"'));
  t.throws(() => loadConfig([], { PORT: '70000' }), /PORT: 70000 is outside 0..65535/);
  t.throws(() => loadConfig([], { NNSERVE_WORKERS: '0' }), /NNSERVE_WORKERS/);
  t.throws(() => loadConfig(['--bogus'], {}), /unknown option --bogus/);
  t.throws(() => loadConfig(['--docs', 'false'], {}), new ConfigError('--docs takes its value after "=": write --docs=false'));
  t.throws(() => loadConfig(['--demo', 'maybe'], {}), new ConfigError('--demo takes its value after "=": write --demo=true|false'));
  t.throws(() => loadConfig(['--port'], {}), /--port needs a value/);
  t.throws(() => loadConfig([], { NNSERVE_LOG_LEVEL: 'loud' }), /NNSERVE_LOG_LEVEL/);
  t.throws(() => loadConfig([], { NNSERVE_DEMO: 'maybe' }), /NNSERVE_DEMO/);
});

t.test('every setting is documented once, in help and in the README table', async (t) => {
  const keys = Object.keys(defaults()).sort();
  t.same(SETTINGS.map((s) => s.key).sort(), keys, 'one row per config field');
  for (const s of SETTINGS) {
    t.ok(helpText().includes(s.flag) && helpText().includes(s.env), s.flag);
    t.ok(settingsTable().includes(`\`${s.env}\``), s.env);
  }
});

t.test('a secret set but empty is refused: it would otherwise quietly turn authentication off', async (t) => {
  for (const [env, value] of [['NNSERVE_API_KEY', ''], ['NNSERVE_API_KEY', '  '], ['NNSERVE_ADMIN_TOKEN', ''], ['NNSERVE_API_KEYS', ''], ['NNSERVE_API_KEYS', ' , ']]) {
    t.throws(() => loadConfig([], { [env]: value }), new RegExp(`^${env} is set but (empty|holds no key); unset it to run without it$`), `${env}=${JSON.stringify(value)}`);
  }
  t.throws(() => loadConfig(['--api-key='], {}), /^--api-key is set but empty/);
  t.match(loadConfig([], {}), { apiKey: null, apiKeys: [], adminToken: null }, 'unset: off, as before');
  t.match(loadConfig([], { NNSERVE_API_KEYS: 'a, b' }), { apiKeys: ['a', 'b'] });
});

t.test('an empty secret in the environment is still overridden by its flag (flags win)', async (t) => {
  t.match(loadConfig(['--api-key', 'abc'], { NNSERVE_API_KEY: '' }), { apiKey: 'abc' });
  t.match(loadConfig(['--api-keys', 'a,b'], { NNSERVE_API_KEYS: ' , ' }), { apiKeys: ['a', 'b'] });
  t.throws(() => loadConfig(['--api-key', 'abc'], { NNSERVE_ADMIN_TOKEN: '' }), /^NNSERVE_ADMIN_TOKEN is set but empty/, 'another secret left empty is still refused');
});
