variable "password" {
  sensitive = true
}

target "demo" { embedded = "demobank" }
