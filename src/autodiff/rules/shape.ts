/**
 * Gradient rules: shape family (to be written).
 */
import type { GradientRule } from "../registry.js";

export const shapeRules: GradientRule[] = [];
