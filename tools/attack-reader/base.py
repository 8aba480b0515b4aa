from load import *
import numpy as np, re
head,rows,refs,notes,names=load()
d=np.load('lab.npz'); lab=d['lab']; emit=d['emit']
prog=np.array([int(re.search(r'-p(\d+)\.wav',names[int(f)]).group(1)) for f in head[:,0]])
struck=(prog<40)|((prog>=80)&(prog<88))
m=lab>=0
print('onsets with label',m.sum(),'struck',(m&struck).sum())
for k in range(8):
    r=rows[:,3+k]
    est=np.round(r[:,0]); conf=r[:,1]
    ok=(est==lab)&m
    print(k, 'est right %.3f'%(ok[m].mean()), 'conf>=.9 share %.3f right %.3f'%(((conf>=.9)&m).mean()/m.mean(), ok[m&(conf>=.9)].mean()))
# heuristic: short-frame rise summed over harmonics
NC=73
for k in range(8):
    now=rows[:,3+k,3:].reshape(-1,2,NC,6); ref=rows[:,1,3:].reshape(-1,2,NC,6)
    for which in (0,1):
        rise=np.maximum(now[:,which]-ref[:,which],0).sum(-1) + 0.0
        pred=28+rise.argmax(1)
        print(k,which,'rise argmax right %.3f'%((pred==lab)[m].mean()), end='  ')
    print()
