/**
 * pathlens for Node.js: everything in `pathlens`, plus the onnxruntime-node backend and file I/O.
 * @packageDocumentation
 */
export * from "./index.js";
export { loadModel, ModelFileError, saveModel, UnsafeExternalDataError } from "./io/model-file.js";
export { readNpy, writeNpy, writeNpyFiles } from "./io/npy.js";
export { nodeBackend } from "./runtime/node.js";
