# Integration metadata for the Packer integrations registry (hand-written; see
# https://github.com/hashicorp/integration-template). The README and the
# components/ docs beside it are generated from docs/ by `make generate`.
integration {
  name        = "Clearwater"
  description = "Clearwater all-in-one images that choose IPv4 or IPv6 at every boot."
  identifier  = "packer/clearwater-aio/clearwater"
  docs {
    process_docs    = true
    readme_location = "./README.md"
    external_url    = "https://github.com/clearwater-aio/packer-plugin-clearwater"
  }
  license {
    type = "MPL-2.0"
    url  = "https://github.com/clearwater-aio/packer-plugin-clearwater/blob/main/LICENSE"
  }
  component {
    type = "builder"
    name = "Clearwater Chroot"
    slug = "chroot"
  }
  component {
    type = "provisioner"
    name = "Clearwater First Boot"
    slug = "firstboot"
  }
  component {
    type = "data-source"
    name = "Clearwater User Data"
    slug = "userdata"
  }
  component {
    type = "post-processor"
    name = "Clearwater Verify"
    slug = "verify"
  }
}
