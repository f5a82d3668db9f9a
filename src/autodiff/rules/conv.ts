/**
 * Gradient rules: conv family (to be written).
 */
import type { GradientRule } from "../registry.js";

export const convRules: GradientRule[] = [];
