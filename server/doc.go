// Package server is the gRPC front of the service: it validates requests, places and ends
// calls through the SIP engine, keeps each call's event log for WatchCall, writes call records
// to the tracker, and maps every error to one gRPC status. It speaks no SIP and no Redis
// itself.
package server
