import { readModel, prepareModel } from '@qgrain/onnx';
import { planModel, nodeRunnerFactory } from '@qgrain/pipeline';
import { Tensor } from '@qgrain/tensor';
import { fakeQuant, parseQuantSpec, qparamsFromData } from '@qgrain/granularity';
import { buildSwitchboard, switchFeeds } from '../../packages/pipeline/src/advise/switchboard.ts';
const p = process.argv[2]; const size = process.argv[3].split('x').map(Number);
const m = await readModel(p); prepareModel(m, { foldBatchNorm: true });
const plan = planModel(m, {});
const spec = parseQuantSpec('int8/per-tensor');
const weights = plan.weights.filter(w=>w.graph==='main').map(w => { const init = m.graph.initializer(w.initializer)!; const v = init.toTensor().toFloat32(); const qp = qparamsFromData(v, init.dims, spec, {context:{channelAxis:w.role.channelAxis}}); return { tensor: w.initializer, quantized: fakeQuant(v, qp) }; });
const acts = plan.activations.filter(a=>a.graph==='main').map(a => ({ tensor: a.tensor, scale: 0.05, zeroPoint: 128, storage: 'uint8' as const }));
let t = performance.now();
const board = buildSwitchboard(m, weights, acts);
console.log('build', (performance.now()-t).toFixed(0), 'ms', board.bytes.length, 'switches', board.switches.size);
const runner = nodeRunnerFactory();
t = performance.now();
const r = await runner(board.bytes);
console.log('session', (performance.now()-t).toFixed(0));
const x = new Tensor('float32', [1,3,...size], new Float32Array(3*size[0]*size[1]).map(()=>Math.random()-0.5));
const inName = m.graph.inputNames()[0];
const fr = await runner((await import('@qgrain/onnx')).serializeModel(m));
for (let k=0;k<3;k++){ t=performance.now(); await fr.run({[inName]:x}); console.log('float run', (performance.now()-t).toFixed(0)); }
const base = await r.run({[inName]: x, ...switchFeeds(board, [])});
for (let k=0;k<3;k++){ t=performance.now(); await r.run({[inName]: x, ...switchFeeds(board, [])}); console.log('sw off run', (performance.now()-t).toFixed(0)); }
const f = await fr.run({[inName]:x});
const o = Object.keys(f)[0];
let d=0; for (let i=0;i<f[o].data.length;i++) d=Math.max(d, Math.abs(f[o].data[i]-base[o].data[i])); console.log('off vs float maxdiff', d);
for (const tname of [weights[3].tensor, acts[3].tensor]) { t=performance.now(); const y = await r.run({[inName]: x, ...switchFeeds(board, [tname])}); let n=0; for (let i=0;i<y[o].data.length;i++) n+=(y[o].data[i]-f[o].data[i])**2; console.log(tname, 'noise', n, (performance.now()-t).toFixed(0),'ms'); }
