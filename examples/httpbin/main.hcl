# A functional suite against go-httpbin, the HTTP test server QA teams use:
#   go install github.com/mccutchen/go-httpbin/v2/cmd/go-httpbin@v2.26.0
#   go-httpbin -host 127.0.0.1 -port 8080 &
#   cloudtest run -var httpbin_url=http://127.0.0.1:8080 examples/httpbin
# It shows the HTTP features of a step: cookies, basic authentication,
# query, form and multipart bodies, compressed answers, redirects, JSON
# Schema and OpenAPI checks; and a status-code matrix from a CSV file, the
# functions of Terraform's language over an answer, and a step that only
# compares captures (data.hcl).

project = "httpbin-features"

variable "httpbin_url" { default = "http://127.0.0.1:8080" }

variable "ops_password" {
  sensitive = true
  default   = "Op3n-Sesame"
}

target "httpbin" {
  url     = var.httpbin_url
  openapi = "api/httpbin.yaml" # the vendor's description, for expect { openapi = true }
}
