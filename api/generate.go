// Package api holds the code generated from openapi.yaml by oapi-codegen:
// the models, the gin strict server interface that package server
// implements, the embedded contract (GetSwagger) used for request
// validation, and a Go client. Do not edit the *.gen.go files; change
// openapi.yaml and run `make generate`.
package api

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2 -config server.cfg.yaml ../openapi.yaml
//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2 -config client.cfg.yaml ../openapi.yaml
