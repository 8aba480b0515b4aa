import re, collections, sys
import numpy as np
f=sys.argv[1]
cnt=collections.Counter(); fam=collections.Counter()
for l in open(f):
    m=re.match(r'\s+(\S+) EXTRA (\S+) (\d+) \(emitted (\S+)\) attack',l)
    if not m: continue
    name,on,p,em=m.group(1),float(m.group(2)),int(m.group(3)),float(m.group(4))
    ref=np.loadtxt(f'/work/dataset/dev/{name}.notes.tsv').reshape(-1,3)
    d=np.abs(ref[:,0]-on); j=d.argmin()
    dp=p-int(ref[j,2]); dt=on-ref[j,0]
    kind='pitch%+d'%dp if abs(dt)<0.05 else ('late' if dt>0 else 'early')
    if abs(dt)<0.05 and dp==0: kind='matched-dup?'
    cnt[kind if abs(dp)<=2 or abs(dt)>=0.05 else ('oct' if abs(dp)%12==0 else 'other')]+=1
    fam[int(re.search(r'-p(\d+)$',name).group(1))]+=1
print(cnt.most_common(12)); print(fam.most_common(20))
