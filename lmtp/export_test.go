package lmtp

// SetFastData turns the line-at-a-time DATA reader on or off (data.go).
func SetFastData(on bool) { fastData.Store(on) }

// FastDataUsed is the number of DATA bodies the line-at-a-time reader read.
func FastDataUsed() int64 { return fastDataUsed.Load() }
