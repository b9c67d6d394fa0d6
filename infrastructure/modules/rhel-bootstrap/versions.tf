terraform {
  required_version = ">= 1.9.0, < 2.0.0"
  # no providers: the module only renders text (templatefile), so `tofu test` runs anywhere
}
