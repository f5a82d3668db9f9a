/**
 * `--device cpu|webgpu`, shared by every command that runs a model.
 */
import type { Backend } from "../runtime/backend.js";
import { nodeBackend } from "../runtime/node.js";
import { type OptionSpec, type ParsedArgs, UsageError } from "./args.js";

/** The devices the CLI can run on. */
export const DEVICES = ["cpu", "webgpu"] as const;

/** The `--device` option of a command. */
export const DEVICE_OPTION: OptionSpec = {
  type: "string",
  value: DEVICES.join("|"),
  help: "where to run: cpu (default) or webgpu (a GPU with a Vulkan driver; nothing to download)",
};

/** The backend for `--device` (default the CPU). */
export function backendFor(args: ParsedArgs): Backend {
  const device = args.string("device") ?? "cpu";
  if (!(DEVICES as readonly string[]).includes(device))
    throw new UsageError(`--device must be one of ${DEVICES.join(", ")}, got "${device}"`, args.command);
  return nodeBackend({ device: device as (typeof DEVICES)[number] });
}
