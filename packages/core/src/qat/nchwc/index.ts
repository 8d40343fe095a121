export { nchwcBlockSize } from './block-size.js';
export { lowerConvsToNchwc, NCHWC_DOMAIN } from './lower-convs.js';
export { keepBlocked } from './blocked-layout.js';
