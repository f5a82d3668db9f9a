/**
 * Gradient rules: linalg family (to be written).
 */
import type { GradientRule } from "../registry.js";

export const linalgRules: GradientRule[] = [];
