// Package segtest holds end-to-end tests of segmented recording: a WHIP
// call recorded in segments uploaded to S3 (versitygw) as they close, a
// recorder killed mid-call and continued by another process from the
// store alone, and the composition of both parts from the store. It has
// no API.
package segtest
