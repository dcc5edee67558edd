# Reads user-data files with cloud-init's own code (Debian's cloud-init package) and prints, per file,
# the part types cloud-init sees and the toggle in the cloud-config it merges: the oracle of
# TestAgainstCloudInit.
import json, os, sys, tempfile
from cloudinit import handlers, helpers, user_data, util
from cloudinit.handlers.cloud_config import CloudConfigPartHandler

def one(fn):
    data = open(fn, 'rb').read()
    paths = helpers.Paths({'cloud_dir': tempfile.mkdtemp()})
    msg = user_data.UserDataProcessor(paths).process(data)
    h = CloudConfigPartHandler(paths)
    h.handle_part(None, handlers.CONTENT_START, None, None, None, None)
    types = []
    for part in msg.walk():
        if part.get_content_maintype() == 'multipart':
            continue
        ctype = part.get_content_type()
        types.append(ctype)
        if ctype == 'text/cloud-config':
            h.handle_part(None, ctype, part.get_filename() or '', util.fully_decoded_payload(part), None, dict(part))
    cfg = h.cloud_buf or {}
    force = None
    cw = cfg.get('clearwater')
    if isinstance(cw, dict) and isinstance(cw.get('force_ipv6'), bool):
        force = cw['force_ipv6']
    marker = False
    wf = cfg.get('write_files')
    if isinstance(wf, list):
        for e in wf:
            if isinstance(e, dict) and isinstance(e.get('path'), str) and e['path']:
                if os.path.abspath(e['path']).lstrip('/') == 'etc/clearwater/force_ipv6' or os.path.normpath('/' + e['path']) == '/etc/clearwater/force_ipv6':
                    marker = True
    return {'types': types, 'force': force, 'marker': marker}

out = {}
for fn in sys.argv[1:]:
    try:
        out[os.path.basename(fn)] = one(fn)
    except Exception as e:
        out[os.path.basename(fn)] = {'error': repr(e)}
json.dump(out, sys.stdout)
