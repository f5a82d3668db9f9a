/**
 * Gradient rules: normalization family (to be written).
 */
import type { GradientRule } from "../registry.js";

export const normalizationRules: GradientRule[] = [];
