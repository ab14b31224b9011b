/*
 * The WebAssembly JS API as far as nnserve uses it. TypeScript ships these types only in lib.dom
 * (which would bring the whole browser into a Node project), and @types/node 20 has none.
 * Declared the way lib.dom does (interfaces + vars), so the two could merge if lib.dom is ever added.
 */
declare namespace WebAssembly {
  interface MemoryDescriptor {
    initial: number;
    maximum?: number;
    shared?: boolean;
  }
  interface Memory {
    /** A SharedArrayBuffer when the memory is shared. */
    readonly buffer: ArrayBuffer;
    grow(delta: number): number;
  }
  var Memory: {
    prototype: Memory;
    new (descriptor: MemoryDescriptor): Memory;
  };

  interface Module {}
  var Module: {
    prototype: Module;
    new (bytes: ArrayBuffer | ArrayBufferView): Module;
  };

  type ImportValue = Memory | ((...args: never[]) => unknown) | number;
  type ModuleImports = Record<string, ImportValue>;
  type Imports = Record<string, ModuleImports>;
  type Exports = Record<string, unknown>;

  interface Instance {
    readonly exports: Exports;
  }
  var Instance: {
    prototype: Instance;
    new (module: Module, importObject?: Imports): Instance;
  };

  function validate(bytes: ArrayBuffer | ArrayBufferView): boolean;
}
