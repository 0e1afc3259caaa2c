// The browser tests' hooks for the inference worker (see fault-worker.js, which installs them
// before the real worker runs). Protocol on the BroadcastChannel "aisle-test":
//   {fault: "crash"}             the worker dies now
//   {fault: "crash-mid-answer"}  the worker dies as it posts the next piece of an answer
//   {fault: "device-lost"}       every GPU device it opened is destroyed
//   {probe: "gpu", id}           replies {id, value: {liveBuffers, devices}}: GPU buffers
//                                created and not destroyed (a leak shows as a growing count)

const devices = [];
let liveBuffers = 0;
let crashAtPiece = false;
let dead = false;

const crash = () => {
  dead = true; // a dead worker answers nothing more
  setTimeout(() => {
    throw new Error("injected fault: the worker crashed");
  });
};

if (self.GPUAdapter && self.GPUDevice) {
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function (...args) {
    const device = await requestDevice.apply(this, args);
    devices.push(device);
    return device;
  };
  const createBuffer = GPUDevice.prototype.createBuffer;
  GPUDevice.prototype.createBuffer = function (...args) {
    const buffer = createBuffer.apply(this, args);
    liveBuffers++;
    const destroy = buffer.destroy;
    let destroyed = false;
    buffer.destroy = function () {
      if (!destroyed) liveBuffers--;
      destroyed = true;
      return destroy.apply(this);
    };
    return buffer;
  };
}

const post = self.postMessage.bind(self);
self.postMessage = (msg, ...rest) => {
  if (crashAtPiece && msg?.type === "piece") crash();
  if (!dead) post(msg, ...rest);
};

const channel = new BroadcastChannel("aisle-test");
channel.onmessage = ({ data }) => {
  if (data.fault === "crash") crash();
  else if (data.fault === "crash-mid-answer") crashAtPiece = true;
  else if (data.fault === "device-lost") devices.forEach((d) => d.destroy());
  else if (data.probe === "gpu") channel.postMessage({ id: data.id, value: { liveBuffers, devices: devices.length } });
};

