/**
 * The failures of a dataset job, one class per kind, so a scheduler can branch on `code`.
 */
import { PathlensError } from "../errors.js";

/** The output folder holds a job made with another model, data set or option set (and no `restart`). */
export class JobChangedError extends PathlensError {
  override name = "JobChangedError";
}

/** The data set cannot be read as rows (unreadable file, rows of different counts, no rows). */
export class DatasetError extends PathlensError {
  override name = "DatasetError";
}

/** The job's settings cannot be used (an option that does not apply to dataset jobs, a bad value). */
export class JobSettingsError extends PathlensError {
  override name = "JobSettingsError";
}

/** A row failed and `failFast` was set; names the row and the reason. */
export class RowFailedError extends PathlensError {
  override name = "RowFailedError";
}

/** The output folder's job files are damaged (a manifest or shard that does not parse or match). */
export class JobStateError extends PathlensError {
  override name = "JobStateError";
}

/** The queue cannot be reached or used (bad URL, Redis down, a shard task that failed for good). */
export class QueueError extends PathlensError {
  override name = "QueueError";
}
