import { LocalRuntime } from '#local/runtime/runtime';
import { mp4 } from '#local/media';
const runtime = await LocalRuntime.start({ log: console.log, handlerLogLevel: 'INFO' });
await runtime.drop(`a/1.mp4`, mp4());
await new Promise((r) => setTimeout(r, 5000));
console.log(await runtime.records());
console.log(runtime.lambdas.invocations, JSON.stringify(runtime.lambdas.figures()).slice(0, 500));
await runtime.stop();
