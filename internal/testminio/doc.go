// Package testminio runs a real MinIO server on loopback for tests of code
// that talks S3 (the tasklogs S3 store): nothing is mocked, requests go over
// HTTP to the same server binary operators run.
//
// The binary is built once, at a pinned version, by ./hack/minio-bin.sh (make
// minio-bin) into $TASKGATE_CACHE/minio/<version>/minio; TASKGATE_MINIO_BIN
// points at another binary. When it is missing, Start fails the test with a
// message saying how to build it; under -short, Start skips.
//
//	srv := testminio.Start(t) // a fresh server and bucket, stopped at cleanup
//	client := srv.Client(t)
//
// The server runs in its own process group and gets SIGKILL when the test
// binary dies (Pdeathsig), so no server outlives its test.
package testminio
