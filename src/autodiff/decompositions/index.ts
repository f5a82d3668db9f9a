/**
 * Registers every decomposition family. Each family file exports a list of decompositions
 * (one file per family: recurrent, contrib, quantized, …).
 */
import { registerDecompositions } from "../decompose.js";
import { contribDecompositions } from "./contrib.js";
import { contribAttentionDecompositions } from "./contrib-attention.js";
import { quantizedDecompositions } from "./quantized.js";
import { quantizedOpDecompositions } from "./quantized-ops.js";

registerDecompositions([
  ...quantizedDecompositions,
  ...quantizedOpDecompositions,
  ...contribDecompositions,
  ...contribAttentionDecompositions,
]);
