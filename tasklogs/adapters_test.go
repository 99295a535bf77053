package tasklogs

import "github.com/taskgate/taskgate/adapters"

// The stores are where adapters push and read payloads too large for TASK_JSON.
var (
	_ adapters.PayloadStore  = (*File)(nil)
	_ adapters.PayloadSource = (*File)(nil)
	_ adapters.PayloadStore  = (*S3)(nil)
	_ adapters.PayloadSource = (*S3)(nil)
	_ adapters.PayloadStore  = Store(nil)
	_ adapters.PayloadSource = Store(nil)
)
