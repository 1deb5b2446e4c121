// Package wire is the POP3 wire protocol (RFC 1939, RFC 2449, RFC 5034)
// without any session logic: reading bounded command lines, parsing them
// into commands, and encoding single-line and multi-line responses with
// byte-stuffing. Package pop3 drives a session on top of it.
package wire
