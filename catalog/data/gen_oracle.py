import json, glob, sys
rows = {}
def walk(v, tid, src):
    if isinstance(v, dict):
        d = v.get('settingDefinitionId')
        if isinstance(d, str):
            ref = (v.get('settingInstanceTemplateReference') or {}).get('settingInstanceTemplateId') or '-'
            rows.setdefault((tid, d, ref), set()).add(src)
        for x in v.values():
            walk(x, tid, src)
    elif isinstance(v, list):
        for x in v:
            walk(x, tid, src)
for f in sorted(glob.glob(sys.argv[1] + '/*/*.json')):
    raw = open(f, 'rb').read()
    txt = raw.decode('utf-16') if raw[:2] in (b'\xff\xfe', b'\xfe\xff') else raw.decode('utf-8-sig')
    d = json.loads(txt)
    tid = (d.get('templateReference') or {}).get('templateId') or ''
    walk(d.get('settings', []), tid, 'ncsc' if '/ncsc/' in f else 'oib')
print('\n'.join('\t'.join([t, d, r, ','.join(sorted(s))]) for (t, d, r), s in sorted(rows.items())))
