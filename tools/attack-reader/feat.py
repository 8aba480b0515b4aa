from load import *
import numpy as np, re
NC=73
def feats(rows, k, refk=1):
    # rows: N x HOPS_REC x ROW ; returns N x NC x F
    r=rows[:,3+k]; ref=rows[:,refk]
    est=r[:,0]; conf=r[:,1]; snd=rows[:,2,2]  # sounding before fire
    now=r[:,3:3+NC*12].reshape(-1,2,NC,6); was=ref[:,3:3+NC*12].reshape(-1,2,NC,6)
    hab=r[:,3+NC*12:3+NC*12+2]
    L=now[:,0]; S=now[:,1]; Lr=was[:,0]; Sr=was[:,1]
    Lmax=L.max(axis=(1,2),keepdims=True); Smax=S.max(axis=(1,2),keepdims=True)
    Ln=np.maximum(L-Lmax,-60)/20; Sn=np.maximum(S-Smax,-60)/20
    dL=np.clip(L-Lr,-30,60)/20; dS=np.clip(S-Sr,-30,60)/20
    # summed energies in dB relative
    def sdb(X): return 10*np.log10((10**(X/10)).sum(-1)+1e-12)
    Ls=sdb(L); Ss=sdb(S); Lsr=sdb(Lr); Ssr=sdb(Sr)
    Lsn=np.maximum(Ls-Ls.max(1,keepdims=True),-60)/20; Ssn=np.maximum(Ss-Ss.max(1,keepdims=True),-60)/20
    dLs=np.clip(Ls-Lsr,-30,60)/20; dSs=np.clip(Ss-Ssr,-30,60)/20
    def shift(X,s):
        Y=np.full_like(X,-3.0)
        if s>0: Y[:,:-s]=X[:,s:]
        else: Y[:,-s:]=X[:,:NC+s]
        return Y
    ctx=[]
    for s in (-12,-7,-1,1,7,12,19,24):
        ctx += [shift(Lsn,s)-Lsn, shift(Ssn,s)-Ssn, shift(dSs,s)-dSs]
    m=np.arange(28,28+NC)[None,:]
    e=np.round(est)[:,None]
    hasest=(est>0)[:,None]
    f=[Ln.transpose(2,0,1),Sn.transpose(2,0,1),dL.transpose(2,0,1),dS.transpose(2,0,1)]
    F=list(np.concatenate(f,0))
    F+=[Lsn,Ssn,dLs,dSs]+ctx
    F+=[np.broadcast_to((m==snd[:,None]).astype(float),Lsn.shape),
        np.broadcast_to((np.abs(m-snd[:,None])<=2).astype(float)*(snd[:,None]>=0),Lsn.shape),
        np.broadcast_to((m-60)/24.0,Lsn.shape),
        ((m==e)&hasest)*conf[:,None], ((m==e+12)&hasest)*conf[:,None], ((m==e-12)&hasest)*conf[:,None],
        ((np.abs(m-e)==1)&hasest)*conf[:,None],
        np.broadcast_to(np.full((1,NC),k/4.0),Lsn.shape), np.broadcast_to(hab[:,0:1],Lsn.shape), np.broadcast_to(hab[:,1:2],Lsn.shape), np.ones_like(Lsn)]
    return np.stack([np.asarray(x,dtype=np.float32) for x in F],-1)
