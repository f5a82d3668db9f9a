/**
 * Gradient rules: activation family (to be written).
 */
import type { GradientRule } from "../registry.js";

export const activationRules: GradientRule[] = [];
