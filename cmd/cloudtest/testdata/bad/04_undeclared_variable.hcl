variable "base_url" {
  default = "http://127.0.0.1:8080"
}

target "cloud" {
  url = var.base_ur
}
