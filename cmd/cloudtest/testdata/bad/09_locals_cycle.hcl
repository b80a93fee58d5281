locals {
  a = "${local.b}-x"
  b = "${local.c}-y"
  c = "${local.a}-z"
}
