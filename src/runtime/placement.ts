/**
 * Where onnxruntime ran each node of a model: read off its profiler (every kernel event names
 * the node, its op type, the execution provider and the output size). Used to check that a
 * gradient graph built for a GPU keeps its data-sized tensors on the GPU, and by `--verbose`.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import type { Tensor } from "../tensor/tensor.js";
import { RuntimeError } from "./backend.js";
import { type DeviceOptions, providersFor } from "./ort.js";

/** One node as onnxruntime ran it. */
export interface NodePlacement {
  /** Node name (onnxruntime's, for nodes its optimizer inserted). */
  node: string;
  opType: string;
  /** Execution provider, e.g. "WebGpuExecutionProvider", "CPUExecutionProvider". */
  provider: string;
  /** Bytes of the node's outputs in that run. */
  outputBytes: number;
}

/** Placement of every node that ran, and the ones off the requested device. */
export interface PlacementReport {
  nodes: NodePlacement[];
  /** Nodes that ran on another provider than the device's (usually the CPU). */
  offDevice: NodePlacement[];
  /**
   * The off-device nodes with data-sized outputs (more than `SHAPE_BYTES`): what costs
   * copies between devices. The rest is shape arithmetic onnxruntime keeps on the CPU by design.
   */
  dataOffDevice: NodePlacement[];
}

/** Outputs up to this many bytes (8 int64 values) count as shape arithmetic, not data. */
export const SHAPE_BYTES = 64;

const PROVIDER: Record<string, string> = {
  webgpu: "WebGpuExecutionProvider",
  cpu: "CPUExecutionProvider",
};

interface ProfileEvent {
  cat?: string;
  name: string;
  args?: { op_name?: string; provider?: string; output_size?: string | number };
}

/**
 * Runs `model` once on `feeds` on the given device with onnxruntime's profiler and reports where
 * each node ran.
 */
export async function placementReport(
  model: Uint8Array,
  feeds: Record<string, Tensor>,
  device: Required<Pick<DeviceOptions, "device">> & DeviceOptions,
): Promise<PlacementReport> {
  const dir = mkdtempSync(join(tmpdir(), "pathlens-placement-"));
  try {
    const session = await ort.InferenceSession.create(model, {
      executionProviders: providersFor(
        device.device,
        device.providerOptions,
      ) as ort.InferenceSession.ExecutionProviderConfig[],
      enableProfiling: true,
      profileFilePrefix: join(dir, "p"),
    });
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(feeds))
      ortFeeds[k] = new ort.Tensor(t.dtype as "float32", t.data as Float32Array, t.dims);
    try {
      await session.run(ortFeeds);
    } catch (e) {
      throw new RuntimeError(`onnxruntime run failed: ${(e as Error).message}`, { cause: e });
    }
    session.endProfiling();
    await session.release();
    const file = readdirSync(dir).find((f) => f.endsWith(".json"));
    if (!file) throw new RuntimeError("onnxruntime wrote no profile to read the placement from");
    const events = JSON.parse(readFileSync(join(dir, file), "utf8")) as ProfileEvent[];
    const nodes: NodePlacement[] = [];
    for (const e of events) {
      if (e.cat !== "Node" || !e.name.endsWith("_kernel_time")) continue;
      nodes.push({
        node: e.name.slice(0, -"_kernel_time".length),
        opType: e.args?.op_name ?? "?",
        provider: e.args?.provider ?? "?",
        outputBytes: Number(e.args?.output_size ?? 0),
      });
    }
    const want = PROVIDER[device.device] ?? device.device;
    const offDevice = nodes.filter((n) => n.provider !== want);
    return { nodes, offDevice, dataOffDevice: offDevice.filter((n) => n.outputBytes > SHAPE_BYTES) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One line per off-device node, for `--verbose` and test messages. */
export function formatPlacement(report: PlacementReport, limit = 40): string {
  const lines = report.offDevice
    .slice(0, limit)
    .map((n) => `  ${n.opType} "${n.node}" on ${n.provider} (${n.outputBytes} bytes out)`);
  if (report.offDevice.length > limit) lines.push(`  … ${report.offDevice.length - limit} more`);
  return (
    `${report.offDevice.length} of ${report.nodes.length} nodes ran off the device, ` +
    `${report.dataOffDevice.length} with data-sized outputs${lines.length ? `:\n${lines.join("\n")}` : ""}`
  );
}
