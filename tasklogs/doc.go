// Package tasklogs reads what peons leave in deep storage — status.json, the
// task log and report.json — in the layouts Druid's FileTaskLogs and
// S3TaskLogs use.
package tasklogs
