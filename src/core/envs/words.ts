/**
 * Everyday object words that name the nodes of the community graph. They are
 * common, short, lowercase nouns (most are one token after a space in the usual
 * byte-pair vocabularies), and none is a prefix of another, so the first token of
 * one name never stands for the start of a different name.
 */
export const OBJECT_WORDS: readonly string[] = [
  'apple', 'chair', 'table', 'lamp', 'book', 'clock', 'spoon', 'bottle',
  'window', 'door', 'pillow', 'blanket', 'basket', 'bucket', 'candle', 'mirror',
  'guitar', 'piano', 'camera', 'phone', 'wallet', 'ladder', 'hammer', 'brush',
  'towel', 'soap', 'plate', 'bowl', 'glass', 'kettle', 'oven', 'sofa',
  'desk', 'shelf', 'pencil', 'paper', 'letter', 'coin', 'ring', 'watch',
  'shoe', 'sock', 'shirt', 'jacket', 'scarf', 'glove', 'hat', 'umbrella',
  'bicycle', 'train', 'boat', 'truck', 'bus', 'tree', 'flower', 'leaf',
  'stone', 'shell', 'feather', 'horse', 'rabbit', 'tiger', 'lion', 'fish',
  'bird', 'orange', 'banana', 'lemon', 'carrot', 'potato', 'onion', 'bread',
  'cheese', 'butter', 'cookie', 'pizza', 'rope', 'wheel', 'ball', 'kite',
  'drum', 'violin', 'tent', 'bridge', 'castle', 'garden', 'river', 'island',
  'cloud', 'moon',
];
