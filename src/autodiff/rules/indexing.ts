/**
 * Gradient rules: indexing family (to be written).
 */
import type { GradientRule } from "../registry.js";

export const indexingRules: GradientRule[] = [];
