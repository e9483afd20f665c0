pub(crate) mod import;
pub(crate) mod secagg;
