/**
 * Registers every rule family. Each family file exports a list of rules.
 */
import { registerRules } from "../registry.js";
import { activationRules } from "./activation.js";
import { arithmeticRules } from "./arithmetic.js";
import { controlflowRules } from "./controlflow.js";
import { convRules } from "./conv.js";
import { indexingRules } from "./indexing.js";
import { linalgRules } from "./linalg.js";
import { normalizationRules } from "./normalization.js";
import { poolRules } from "./pool.js";
import { reduceRules } from "./reduce.js";
import { resizeRules } from "./resize.js";
import { shapeRules } from "./shape.js";
import { trigRules } from "./trig.js";

registerRules([
  ...arithmeticRules,
  ...activationRules,
  ...linalgRules,
  ...normalizationRules,
  ...shapeRules,
  ...reduceRules,
  ...indexingRules,
  ...convRules,
  ...poolRules,
  ...resizeRules,
  ...trigRules,
  ...controlflowRules,
]);
