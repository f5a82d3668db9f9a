/**
 * Test helper: a WebGPU adapter on machines without a GPU. onnxruntime-node's WebGPU provider
 * (Dawn) runs on Vulkan; Debian's chromium package ships SwiftShader, a software Vulkan driver,
 * whose ICD file points Vulkan's loader (libvulkan1) at it. Tests that cannot get an adapter skip
 * and say why.
 */
import { existsSync } from "node:fs";

/** Where Debian's chromium keeps SwiftShader's Vulkan ICD. */
export const SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";

const VULKAN_LOADERS = [
  "/usr/lib/x86_64-linux-gnu/libvulkan.so.1",
  "/usr/lib/aarch64-linux-gnu/libvulkan.so.1",
  "/usr/lib/libvulkan.so.1",
];

/**
 * Points Vulkan at SwiftShader unless the environment already names an ICD (a real GPU's driver
 * is then used). Returns undefined when an adapter can be tried, else the reason to skip.
 * Must run before the first WebGPU session of the process (Dawn reads the variable once).
 */
export function softwareWebGpu(): string | undefined {
  if (!VULKAN_LOADERS.some((p) => existsSync(p)))
    return "no Vulkan loader (apt-get install libvulkan1): WebGPU tests skipped";
  if (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES) return undefined;
  if (!existsSync(SWIFTSHADER_ICD))
    return `no Vulkan driver and no SwiftShader ICD at ${SWIFTSHADER_ICD} (apt-get install chromium): WebGPU tests skipped`;
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  return undefined;
}
