/**
 * Gradient rules: pool family (to be written).
 */
import type { GradientRule } from "../registry.js";

export const poolRules: GradientRule[] = [];
