//! The iteration order of Java's `HashMap<Long, V>`, which decides STCS's ties between buckets
//! (`SizeTieredCompactionStrategy.getBuckets` keeps its buckets in one; `java/util/HashMap.java`
//! for the bins, `Long.hashCode` for the hash).

/// The iteration order of Java's `HashMap<Long, V>` (default capacity 16, load factor 0.75):
/// by bin (`(h ^ h >>> 16) & (capacity - 1)`, with `Long.hashCode`), then by insertion within a
/// bin. A replaced key keeps its place. Bins are never treeified at the sizes compaction sees.
#[derive(Default)]
pub(super) struct JavaLongMap {
    entries: Vec<(i64, u64, Vec<usize>)>,
    next_seq: u64,
    capacity: usize,
}

impl JavaLongMap {
    pub(super) fn spread(k: i64) -> u32 {
        let h = (k ^ ((k as u64) >> 32) as i64) as i32 as u32;
        h ^ (h >> 16)
    }

    pub(super) fn put(&mut self, k: i64, v: Vec<usize>) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.0 == k) {
            e.2 = v;
            return;
        }
        self.entries.push((k, self.next_seq, v));
        self.next_seq += 1;
        if self.capacity == 0 {
            self.capacity = 16;
        }
        while self.entries.len() * 4 > self.capacity * 3 {
            self.capacity *= 2;
        }
    }

    pub(super) fn remove(&mut self, k: i64) {
        self.entries.retain(|e| e.0 != k);
    }

    pub(super) fn iter_ordered(&self) -> Vec<(i64, &Vec<usize>)> {
        let mask = self.capacity.max(16) as u32 - 1;
        let mut v: Vec<&(i64, u64, Vec<usize>)> = self.entries.iter().collect();
        v.sort_by_key(|e| (Self::spread(e.0) & mask, e.1));
        v.into_iter().map(|e| (e.0, &e.2)).collect()
    }
}
