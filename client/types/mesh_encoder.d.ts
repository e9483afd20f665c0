/* tslint:disable */
/* eslint-disable */

/**
 * The sentence encoder (see `SentenceEncoder`).
 */
export class SentenceEncoder {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The embeddings of several texts, concatenated (384 values each, in order).
     */
    embedMany(texts: string[]): Float32Array;
    /**
     * The embedding of already tokenized ids (for benchmarks at a fixed length).
     */
    embedTokenIds(ids: Uint32Array | number[]): Float32Array;
    /**
     * The 384-d unit embedding of `text`.
     */
    embed(text: string): Float32Array;
    /**
     * Loads `model.onnx` and `tokenizer.json` from their bytes (checked by the caller against
     * the pinned SHA-256 sums) and optimises the model.
     */
    constructor(onnx: Uint8Array | number[], tokenizer_json: Uint8Array | number[]);
    /**
     * Token ids of `text` (with `[CLS]` and `[SEP]`).
     */
    tokenIds(text: string): Uint32Array;
}

export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

export interface InitOutput {
    readonly memory: WebAssembly.Memory;
    readonly __wbg_sentenceencoder_free: (a: number, b: number) => void;
    readonly sentenceencoder_embed: (a: number, b: number, c: number) => [number, number, number, number];
    readonly sentenceencoder_embedMany: (a: number, b: number, c: number) => [number, number, number, number];
    readonly sentenceencoder_embedTokenIds: (a: number, b: number, c: number) => [number, number, number, number];
    readonly sentenceencoder_new: (a: number, b: number, c: number, d: number) => [number, number, number];
    readonly sentenceencoder_tokenIds: (a: number, b: number, c: number) => [number, number, number, number];
    readonly __wbindgen_malloc_command_export: (a: number, b: number) => number;
    readonly __wbindgen_realloc_command_export: (a: number, b: number, c: number, d: number) => number;
    readonly __wbindgen_free_command_export: (a: number, b: number, c: number) => void;
    readonly __wbindgen_exn_store_command_export: (a: number) => void;
    readonly __externref_table_alloc_command_export: () => number;
    readonly __wbindgen_externrefs: WebAssembly.Table;
    readonly __externref_drop_slice_command_export: (a: number, b: number) => void;
    readonly __externref_table_dealloc_command_export: (a: number) => void;
    readonly __wbindgen_start: () => void;
}

export type SyncInitInput = BufferSource | WebAssembly.Module;

/**
 * Instantiates the given `module`, which can either be bytes or
 * a precompiled `WebAssembly.Module`.
 *
 * @param {{ module: SyncInitInput }} module - Passing `SyncInitInput` directly is deprecated.
 *
 * @returns {InitOutput}
 */
export function initSync(module: { module: SyncInitInput } | SyncInitInput): InitOutput;

/**
 * If `module_or_path` is {RequestInfo} or {URL}, makes a request and
 * for everything else, calls `WebAssembly.instantiate` directly.
 *
 * @param {{ module_or_path: InitInput | Promise<InitInput> }} module_or_path - Passing `InitInput` directly is deprecated.
 *
 * @returns {Promise<InitOutput>}
 */
export default function __wbg_init (module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>): Promise<InitOutput>;
