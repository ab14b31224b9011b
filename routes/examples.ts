/**
 * Examples for the OpenAPI document, written for the demo index that `npm start` creates, so Swagger
 * UI's "Try it out" answers 200 on a fresh clone as the README's curl examples do.
 */
import { DEMO, demoItemVector } from '../src/service/registry/demo.js';

export const EXAMPLE_INDEX = DEMO.name;
export const EXAMPLE_ITEM = 'item-42';
export const OTHER_EXAMPLE_ITEM = 'item-7192';

/** Close to item-42's vector (3 decimals), so that item comes first. */
export const exampleVector = demoItemVector(42);

export const searchExample = { vector: exampleVector, n: 5, include_distances: true };
export const searchByItemExample = { item: 'item-42', n: 5, exclude: ['item-42', 'item-7192'], include_distances: false };

export const batchExample = { queries: [{ item: EXAMPLE_ITEM }, { vector: exampleVector }], n: 3 };
