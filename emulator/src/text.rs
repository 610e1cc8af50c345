//! Decoding the text files the emulator is seeded from (seed JSON, exported policies,
//! profile YAML). Windows tools write UTF-8 with a byte-order mark and Intune/PowerShell
//! exports are often UTF-16, so a seed is accepted in UTF-8 (with or without BOM) and in
//! UTF-16 LE/BE with BOM, through `encoding_rs`'s BOM sniffing. Malformed bytes are an error,
//! never replaced (a seed that silently changed would test something else).

/// The text of `bytes`: the BOM decides the encoding (UTF-8 without one), the BOM itself
/// is dropped. Errors: bytes that are malformed in the detected encoding, with its name.
pub fn decode(bytes: &[u8]) -> Result<String, String> {
    let (encoding, bom_len) =
        encoding_rs::Encoding::for_bom(bytes).unwrap_or((encoding_rs::UTF_8, 0));
    encoding
        .decode_without_bom_handling_and_without_replacement(&bytes[bom_len..])
        .map(|text| text.into_owned())
        .ok_or_else(|| format!("the file is not valid {}", encoding.name()))
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn utf8_with_and_without_bom_and_utf16_with_bom() {
        assert_eq!(decode(b"{\"a\":1}").unwrap(), "{\"a\":1}");
        assert_eq!(decode(b"\xEF\xBB\xBF{}").unwrap(), "{}");
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("{}".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(decode(&le).unwrap(), "{}");
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("é".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(decode(&be).unwrap(), "é");
    }

    #[test]
    fn malformed_bytes_are_an_error() {
        assert!(decode(b"caf\xe9").unwrap_err().contains("UTF-8"));
        assert!(decode(&[0xFF, 0xFE, 0x00, 0xD8]).is_err());
    }
}
