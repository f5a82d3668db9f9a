/**
 * Gradient rules: reduce family (to be written).
 */
import type { GradientRule } from "../registry.js";

export const reduceRules: GradientRule[] = [];
