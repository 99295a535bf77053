// Package tasklogs reads what peons leave in deep storage — status.json, the
// task log and report.json — and keeps task payloads too large for TASK_JSON,
// in the layouts Druid's FileTaskLogs and S3TaskLogs use, so a store written
// by Druid's own peons (or read by Druid's Overlord) is shared unchanged.
//
// Layouts, for task id T:
//
//	file (druid.indexer.logs.directory, default "log"):
//	    {dir}/T.log  {dir}/T.report.json  {dir}/T.status.json  {dir}/T.task.json
//	s3 (druid.indexer.logs.s3Bucket, druid.indexer.logs.s3Prefix):
//	    {prefix}/T/log  {prefix}/T/report.json  {prefix}/T/status.json  {prefix}/T/task.json
//
// A missing object is reported as absent (ok == false, or ErrNotFound for
// TaskPayload), never as an I/O error, because a peon that died early leaves
// nothing behind and the caller decides what that means.
package tasklogs
