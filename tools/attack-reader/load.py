import numpy as np, csv, os
NC=73; H=6; V=NC*H*2+2; ROW=3+V
# Hops per record: 3 before the onset and 14 from it (`PROBE_BEFORE`, `PROBE_FROM` in
# `cli/transcription.rs`).
HOPS_REC=17; REC=4+HOPS_REC*ROW
def load(prefix='/tmp/probe'):
    raw=np.fromfile(prefix+'.bin',dtype='<f4')
    n=raw.size//REC; raw=raw[:n*REC].reshape(n,REC)
    head=raw[:,:4]; rows=raw[:,4:].reshape(n,HOPS_REC,ROW)
    files=[l.rstrip('\n').split('\t') for l in open(prefix+'.files.tsv')]
    refs={}
    for fi,w,t in files:
        refs[int(fi)]=np.array([[float(x) for x in l.split('\t')[:3]] for l in open(t) if l.strip()]).reshape(-1,3)
    notes={}
    for l in open(prefix+'.notes.tsv'):
        fi,e,o,p=l.split('\t'); notes.setdefault(int(fi),[]).append((float(e),float(o),int(p)))
    names=[os.path.basename(w) for _,w,_ in files]
    return head,rows,refs,notes,names
def labels(head,refs,notes):
    n=len(head); lab=np.full(n,-1); won=np.full(n,np.nan); emit=np.full(n,np.nan)
    for i in range(n):
        fi=int(head[i,0]); sr=head[i,1]; tf=head[i,2]/sr
        r=refs[fi]; d=tf-r[:,0]
        ok=np.where((d>=-0.01)&(d<=0.05))[0]
        if len(ok)==0: continue
        j=ok[np.argmin(np.abs(d[ok]-0.011))]
        lab[i]=int(r[j,2]); won[i]=r[j,0]
        # tracker's note for it
        best=None
        for e,o,p in notes.get(fi,[]):
            if p==lab[i] and abs(o-r[j,0])<=0.05:
                if best is None or e<best: best=e
        if best is not None: emit[i]=best-r[j,0]
    return lab,won,emit
