#!/bin/sh
# Regenerates the tool-made inputs of the table tests. Needs Debian's cloud-init (22.4) and
# cloud-image-utils (0.33) packages: apt-get install -y cloud-init cloud-image-utils
set -eu
cd "$(dirname "$0")"
cloud-init devel make-mime -a force.yaml:cloud-config -a script.sh:x-shellscript > make-mime.txt
cloud-init devel make-mime -a script.sh:x-shellscript -a marker-dropin.yaml:cloud-config > make-mime-marker.txt
write-mime-multipart --gzip --output=wmm-gzip.bin force.yaml script.sh
write-mime-multipart --output=wmm.txt script.sh marker-dropin.yaml
