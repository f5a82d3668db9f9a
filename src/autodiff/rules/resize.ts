/**
 * Gradient rules: resize family (to be written).
 */
import type { GradientRule } from "../registry.js";

export const resizeRules: GradientRule[] = [];
