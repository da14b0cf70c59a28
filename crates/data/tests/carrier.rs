//! The package-index carrier's pickle reader, on a pickle built here in the mnist.pkl layout.

use data::{carrier, idx};

/// A protocol-2 pickle of one numpy array's raw buffer, in the opcodes mnist.pkl uses.
fn array(raw: &[u8], dtype: &str, shape: &[u32]) -> Vec<u8> {
    let mut p =
        b"cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\nq\x02K\x00\x85U\x01b\x87Rq\x03(K\x01".to_vec();
    for &d in shape {
        p.push(b'M');
        p.extend_from_slice(&(d as u16).to_le_bytes());
    }
    p.push(if shape.len() == 2 { 0x86 } else { 0x85 });
    p.extend_from_slice(b"cnumpy\ndtype\nq\x04U");
    p.push(dtype.len() as u8);
    p.extend_from_slice(dtype.as_bytes());
    p.extend_from_slice(b"K\x00K\x01\x87Rq\x05(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T");
    p.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    p.extend_from_slice(raw);
    p.extend_from_slice(b"tb");
    p
}

fn split(n: usize, first_label: i64) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..n * 784).map(|i| (i % 256) as u8).collect();
    let floats: Vec<u8> = pixels.iter().flat_map(|&b| (b as f32 / 256.0).to_le_bytes()).collect();
    let labels: Vec<u8> = (0..n as i64).flat_map(|i| ((first_label + i) % 10).to_le_bytes()).collect();
    let mut p = array(&floats, "f4", &[n as u32, 784]);
    p.extend(array(&labels, "i8", &[n as u32]));
    (p, pixels, (0..n as i64).map(|i| ((first_label + i) % 10) as u8).collect())
}

fn pickle(parts: &[&[u8]]) -> Vec<u8> {
    let mut p = vec![0x80, 2];
    for part in parts {
        p.extend_from_slice(part);
    }
    p.extend_from_slice(b"\x87.");
    p
}

#[test]
fn rebuilds_idx_files_train_then_valid_then_test() {
    let (train, train_x, train_y) = split(3, 0);
    let (valid, valid_x, valid_y) = split(2, 5);
    let (test, test_x, test_y) = split(1, 9);
    let [tx, ty, sx, sy] = carrier::idx_files_from_pickle(&pickle(&[&train, &valid, &test])).unwrap();
    let images = idx::parse_images(&tx).unwrap();
    assert_eq!(images.dim(), (5, 28, 28));
    assert_eq!(images.as_slice().unwrap(), [train_x, valid_x].concat());
    assert_eq!(idx::parse_labels(&ty).unwrap().to_vec(), [train_y, valid_y].concat());
    assert_eq!(idx::parse_images(&sx).unwrap().as_slice().unwrap(), test_x);
    assert_eq!(idx::parse_labels(&sy).unwrap().to_vec(), test_y);
}

#[test]
fn rejects_unknown_opcodes_and_wrong_array_counts() {
    let (train, ..) = split(1, 0);
    let msg = format!("{:#}", carrier::idx_files_from_pickle(&pickle(&[&train])).unwrap_err());
    assert!(msg.contains("expected 6 arrays, ") || msg.contains("found 2"), "{msg}");
    let msg = format!("{:#}", carrier::idx_files_from_pickle(&[0x80, 2, b'X', b'.']).unwrap_err());
    assert!(msg.contains("opcode 0x58"), "{msg}");
    let msg = format!("{:#}", carrier::idx_files_from_pickle(&[0x80, 2, b'T', 9, 0, 0, 0, 1]).unwrap_err());
    assert!(msg.contains("ends inside an opcode"), "{msg}");
}

#[test]
fn rejects_pixels_that_are_not_bytes() {
    let floats: Vec<u8> = (0..784).flat_map(|_| 0.3f32.to_le_bytes()).collect();
    let mut bad = array(&floats, "f4", &[1, 784]);
    bad.extend(array(&0i64.to_le_bytes(), "i8", &[1]));
    let (ok, ..) = split(1, 0);
    let msg = format!("{:#}", carrier::idx_files_from_pickle(&pickle(&[&bad, &ok, &ok])).unwrap_err());
    assert!(msg.contains("is not a byte"), "{msg}");
}
