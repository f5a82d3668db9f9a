/**
 * Registers every decomposition family. Each family file exports a list of decompositions
 * (one file per family: recurrent, contrib, quantized, …).
 */
import { registerDecompositions } from "../decompose.js";
import { loopDecompositions } from "./loop.js";
import { padDecompositions } from "./pad.js";
import { recurrentDecompositions } from "./recurrent.js";
import { scanDecompositions } from "./scan.js";

registerDecompositions([
  ...recurrentDecompositions,
  ...loopDecompositions,
  ...scanDecompositions,
  ...padDecompositions,
]);
