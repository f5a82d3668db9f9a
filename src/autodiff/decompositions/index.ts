/**
 * Registers every decomposition family. Each family file exports a list of decompositions
 * (one file per family: recurrent, contrib, quantized, …).
 */
import { registerDecompositions } from "../decompose.js";
import { contribDecompositions } from "./contrib.js";
import { contribAttentionDecompositions } from "./contrib-attention.js";
import { loopDecompositions } from "./loop.js";
import { nchwcDecompositions } from "./nchwc.js";
import { padDecompositions } from "./pad.js";
import { quantizedDecompositions } from "./quantized.js";
import { quantizedOpDecompositions } from "./quantized-ops.js";
import { recurrentDecompositions } from "./recurrent.js";
import { scanDecompositions } from "./scan.js";

registerDecompositions([
  ...recurrentDecompositions,
  ...loopDecompositions,
  ...scanDecompositions,
  ...padDecompositions,
  ...quantizedDecompositions,
  ...quantizedOpDecompositions,
  ...contribDecompositions,
  ...contribAttentionDecompositions,
  ...nchwcDecompositions,
]);
